"""Model building blocks shared by segmentation and detection: CLIP towers, text side, heads."""
