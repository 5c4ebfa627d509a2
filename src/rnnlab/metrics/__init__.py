"""Metrics as plain numpy functions: a leaf package that imports nothing else of rnnlab.

classification: confusion matrix, per-class precision/recall/F1, AUROC/AUPRC; ranking: AUROC, AUPRC and
bootstrap intervals; forecast: MAE/RMSE/sMAPE/MASE, direction, interval coverage; text: chrF and BLEU.
"""
