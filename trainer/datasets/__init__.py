"""The data sets of the paper: where each lives publicly, how to fetch it (`fetch`), readers for its real files
(`pmc_oa`, `roco`, `medmnist`, `vqa`) and a check of a fetched copy (`verify`)."""
