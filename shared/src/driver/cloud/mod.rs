//! The Elastic Cloud driver (organization roles, deployments and serverless projects).
