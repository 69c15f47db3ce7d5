"""The composition root: settings become services, services become one aiohttp app, and the CLI."""
