"""Data: datasets, transforms and the LightningDataModules that serve them, one module each
(configs and imports name the module: `data.regression.SyntheticRegressionDataModule`)."""
