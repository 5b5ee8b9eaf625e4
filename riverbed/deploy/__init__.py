"""Riverbed on Kubernetes: what the Helm chart (deploy/helm/riverbed) takes from the code.

* :mod:`riverbed.deploy.plan`: the topics, worker kinds and Kafka ACLs as one JSON file
  inside the chart, generated from ``schemas.topics`` and ``riverbed.stack.acls`` so the
  chart's KafkaTopics, KafkaUsers and KEDA limits cannot drift from the code.
* :mod:`riverbed.deploy.helm`: finding (or building) the cached Helm binary, and
  rendering the chart.
"""
