"""The sinusoid analysis.

The sinusoid analysis: rules in workflow/rules/sinusoid.smk, results in results/<version>/sinusoid/.
"""
