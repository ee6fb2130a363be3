"""Local emulators of provider APIs, used by the tests and the demo in place of the real services."""
