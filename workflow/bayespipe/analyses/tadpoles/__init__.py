"""The tadpoles analysis.

The tadpoles analysis: rules in workflow/rules/tadpoles.smk, results in results/<version>/tadpoles/.
"""
