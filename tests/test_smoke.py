import numpy as np
import scipy.signal as ss

import convscope as cs


def test_seed_laplacian_matches_scipy():
    x = np.random.default_rng(0).standard_normal((17, 19))
    k = cs.get_kernel("laplacian8").numpy()
    np.testing.assert_allclose(cs.convolve2d(x, k), ss.convolve2d(x, k, mode="same"), rtol=1e-10, atol=1e-12)
