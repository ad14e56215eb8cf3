"""Model training: splits, XGBoost trainer, evaluation, report, SageMaker artifact and launcher."""
