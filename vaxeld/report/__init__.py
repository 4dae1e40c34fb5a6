"""Reports: periods, figures, comparisons and their outputs (text, CSV, JSON, HTML). Pure."""
