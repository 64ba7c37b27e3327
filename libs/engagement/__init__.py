"""Client engagement: score clients, decide who is drifting away, draft win-back emails.

This package is shipped to Lambda as a layer. It holds the pure business logic (scoring, policy, events,
writers) and the adapters to AWS (store, messaging); handlers in functions/ only wire them together.
"""
