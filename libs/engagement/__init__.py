"""Client engagement: score clients, decide who is drifting away, draft win-back emails.

This package is shipped to Lambda as a layer, in layers; each imports only from those below it (import-linter's
contracts in pyproject.toml, checked by `make lint`):

    bootstrap   the one wiring point: a builder per function returns that function's services
    http        the HTTP API: app (resolver, guard, errors), routers, views, schemas, auth
    services    one use case each: winback, delivery, stream, signals, conversion, ses_feedback, clients,
                review, stats, rescore
    writer      the email writer, whole: template, LLM (the only module that imports openai), guardrails
    adapters    what talks to AWS (the only modules that import boto3): store/, messaging, mailer, secrets, ...
    domain      pure rules and shapes: models, scoring, policy, lifecycle, events, consent, sending window, ...

config, batch (SQS batches decoded at the edge), observability, clock and errors sit outside the layers. The
handlers in functions/ are a config, one bootstrap call and lambda_handler.
"""
