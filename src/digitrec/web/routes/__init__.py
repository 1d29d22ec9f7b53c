"""The API by area, one APIRouter each: prediction, numbers, feedback, pages and meta."""
