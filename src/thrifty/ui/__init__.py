"""The web dashboard: server-rendered pages served by the gateway itself at ``/``.

Nothing here reads the database for its figures. A page is a client of the admin API: it
calls the API in-process (:mod:`thrifty.ui.api`) as the signed-in key, so every page shows
exactly what that key may see through the API and every change goes through the API's own
validation, rights and audit. What lives here is presentation: sign-in sessions (``session``,
``signin``), the in-process API client (``api``), rendering and forms (``render``, ``forms``,
``pages``), page routes by domain (``overview``, ``budgets`` with ``budget_form``, ``alerts``,
``approvals``, ``analytics``, ``decisions``, ``catalog`` for models, ``rules_page``,
``recommendations``), Chart.js configurations (``charts``), templates and static
assets. Chart.js is vendored from its npm package (``static/vendor/vendor.json`` records the
version and checksum); there is no front-end build step.
"""
