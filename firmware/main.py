"""Device entry point (ESP32): the CTG bridge from the provisioning bundle in /bundle."""

from mchfw import app, hw

BUNDLE = "/bundle"

app.run_ctg(BUNDLE, hw.open_board())
