"""The HTTP JSON API and the fit badge (FastAPI): ``python -m planner serve [--host] [--port 8000]``.

Modules: :mod:`~planner.api.app` (the routes; each answers exactly what the CLI's ``--json``
prints), :mod:`~planner.api.params` (query parameters read with the CLI's flag names and parsers)
and :mod:`~planner.api.badge` (the SVG). Importing :mod:`planner` never imports FastAPI; only this
package does.
"""
