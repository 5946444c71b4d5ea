"""rawscan's tests, laid out like the package (tests/analyze/ tests rawscan/analyze/, ...);
lab tests in tests/live/, shared helpers in tests/support/."""
