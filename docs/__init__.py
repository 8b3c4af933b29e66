"""The manual's pages as a package, so that pytest imports docs/conftest.py as docs.conftest, apart from tests/conftest.py."""
