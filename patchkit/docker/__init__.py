"""The docker backend: the engine (the only module that imports the Docker SDK), the base image,
the Dockerfile, builds and tests in containers."""
