import ModelcCLI
