// Declarations only: the header is the module.
