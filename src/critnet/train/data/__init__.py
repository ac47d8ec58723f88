"""Training data: the pairs the network learns from (RoadScene with its split), the crops cut
from them on the training device, and seeded synthetic pairs for tests."""
