"""Analysis A, Zillow ``logerror``.

Data (Kaggle loader, synthetic twin, preparation chain, data card) and the models that consume the
prepared tables.
"""
