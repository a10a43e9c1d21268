"""The HTTP shell: FastAPI app, authentication and error answers."""
