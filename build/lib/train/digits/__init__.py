"""The example task: classify scikit-learn's 8×8 digits with a small PyTorch MLP. Replace it with your own."""
