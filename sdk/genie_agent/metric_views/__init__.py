"""Unity Catalog metric views as the semantic model's exchange format.

Export (:func:`export_space`) writes a local space's model as metric view YAML, one view per measure
table, with the ``CREATE OR REPLACE VIEW ... WITH METRICS LANGUAGE YAML AS $$ ... $$`` statement of
each, and a sidecar file with what the views cannot say (:mod:`.sidecar`). Import (:mod:`.load`)
builds the same space from those files: a catalog lists the sidecar like any space file.

The metric view YAML follows the Databricks specification, version 1.1 (``comment``, ``display_name``,
``format`` and ``synonyms`` are 1.1; 0.1 files are read too):

- syntax: https://docs.databricks.com/aws/en/metric-views/data-modeling/syntax
- joins (``on`` / ``using``, nested joins): https://docs.databricks.com/aws/en/business-semantics/metric-views/joins
- semantic metadata: https://docs.databricks.com/gcp/en/metric-views/data-modeling/semantic-metadata
- versions: https://docs.databricks.com/gcp/en/business-semantics/metric-views/feature-availability
"""

from __future__ import annotations

from .export import create_view_sql, export_space, space_to_metric_views

__all__ = ["create_view_sql", "export_space", "space_to_metric_views"]
