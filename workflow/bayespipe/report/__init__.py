"""The per-version HTML report (``results/<version>/report/index.html``) and the code snapshot."""
