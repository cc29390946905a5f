"""One subpackage per analysis, mirroring ``workflow/rules/<name>.smk`` and ``results/<v>/<name>/``.

The list of analyses and what each depends on is ``bayespipe.catalog``.
"""
