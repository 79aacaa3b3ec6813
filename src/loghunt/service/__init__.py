"""The streaming service: the batch pipeline behind an HTTP API and stream consumers.

``loghunt serve MODEL_DIR`` runs the FastAPI app (:mod:`.app`); ``loghunt consume`` reads Redis
Streams or Kafka (:mod:`.sources`) into sinks (:mod:`.sinks`). Both score with
:class:`~loghunt.service.engine.Scorer`, which calls the model's own ``Pipeline.score``, and
learn normal events into the :class:`~loghunt.service.store.OnlineStore`.

Modules import their optional libraries (fastapi, uvicorn, prometheus-client, redis,
confluent-kafka, httpx) themselves and raise ``MissingExtraError`` naming
``pip install 'loghunt[service]'`` when one is missing; importing this package needs none.
"""
