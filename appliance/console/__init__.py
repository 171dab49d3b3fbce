"""The web console: chat with your code, and administration (repositories, users and groups, tokens, license,
usage, audit). Server-rendered pages (Jinja2, autoescaped) with small same-origin scripts under a strict
Content-Security-Policy; a JSON API under /api that the pages and scripts share.

`create_app` includes its routes (`appliance.console.app.console_router`) when `console.enabled`; its services
are built in `appliance.wiring`. Nothing heavy is imported here: `appliance.config` imports
`appliance.console.config`."""
