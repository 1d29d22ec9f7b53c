"""What serving runs, torch-free: a drawing in, a reading out."""
