"""The nurses' central fetal-monitoring screen: presenters (no Kivy) and the Kivy screens over them."""
