from .metric_retriever import MetricRetriever

__all__ = ['MetricRetriever']
