"""The patient's self-service app (Kivy): screens in kv/, presenters hold the rules."""
