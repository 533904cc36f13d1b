"""A deployment's typed configuration (``config/<name>.yaml``), shared by the CDK app, the CLI,
the sandbox and the functions: it imports neither ``aws_cdk`` nor ``boto3``."""
