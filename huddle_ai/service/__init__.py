"""The service edge: rq jobs, the worker, webhooks, the broker and the HTTP API."""
