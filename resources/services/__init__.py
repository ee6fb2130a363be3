"""Operations on app records shared by the gateway, the CLI and the tests."""
