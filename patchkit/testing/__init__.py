"""Running the integration suite for a base and reading its JUnit result; the build matrix over
bases and suites."""
