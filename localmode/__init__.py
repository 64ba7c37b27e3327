"""The local mode: the whole product on one machine, with moto server as the AWS emulator.

Development tooling only: it is never packaged into the Lambda layer.
"""
