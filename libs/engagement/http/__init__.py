"""The HTTP API's pieces: views (JSON shapes), pages, authentication, routers."""
