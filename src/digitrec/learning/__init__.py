"""What makes and measures models (torch): data, drawings, models, training, evaluation, export."""
