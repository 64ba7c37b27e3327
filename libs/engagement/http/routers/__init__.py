"""The API's routes by area, each a powertools Router made for one ApiServices: public (health, the dashboard,
unsubscribe), clients, emails (review and the outbox), operations (stats and the pipeline)."""
