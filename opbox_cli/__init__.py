"""The `opbox` command line: init, serve, emulators and the demo."""
