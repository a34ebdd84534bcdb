"""The answer role: the extractive answerer, abstention, citations ([n] markers and their verification),
and short answers."""
