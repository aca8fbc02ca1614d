"""The patient's flows at the kiosk (identify, register, sign, book, pay, print, leave) and the
technician's maintenance mode: pure Python over the drivers' interfaces and `HospitalServices`.

No Kivy here: the app's presenters call these from worker threads and show their `Notice`s.
"""
