"""Kiosk touchscreen: Kivy input configuration for evdev multitouch and its self-test."""

from kiosk.touch.kivy_input import KivyInputConfig, TouchConfig, apply_kivy_input, kivy_input_config

__all__ = ["KivyInputConfig", "TouchConfig", "apply_kivy_input", "kivy_input_config"]
