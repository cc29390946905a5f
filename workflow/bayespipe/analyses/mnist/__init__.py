"""The mnist analysis: rules in workflow/rules/mnist.smk, results in results/<version>/mnist/."""
