"""The moons analysis: rules in workflow/rules/moons.smk, results in results/<version>/moons/."""
