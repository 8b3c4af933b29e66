"""Named kernels and custom kernel parsing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from convscope.kernels import KERNELS, get_kernel, kernel_from_spec, list_kernels, parse_kernel

ISSUE_NAMES = {
    "identity", "box", "gaussian", "laplacian4", "laplacian8", "sobel_x", "sobel_y", "scharr_x",
    "scharr_y", "prewitt_x", "prewitt_y", "sharpen", "emboss", "log", "gabor",
}  # fmt: skip


class TestGetKernel:
    def test_every_kernel_the_issue_names_exists(self):
        assert ISSUE_NAMES <= set(list_kernels())

    @pytest.mark.parametrize("name", list(KERNELS))
    def test_every_kernel_is_a_finite_2d_float64_tensor(self, name):
        k = get_kernel(name)
        assert isinstance(k, torch.Tensor) and k.ndim == 2 and k.dtype == torch.float64
        assert torch.isfinite(k).all() and k.abs().sum() > 0
        assert get_kernel(name, dtype=torch.float32).dtype == torch.float32

    def test_seed_kernel_exactly(self):
        assert torch.equal(get_kernel("laplacian8"), torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=torch.float64))

    @pytest.mark.parametrize("name", ["laplacian4", "laplacian8", "sobel_x", "sobel_y", "scharr_x", "scharr_y", "prewitt_x", "prewitt_y", "log", "gabor"])
    def test_derivative_kernels_sum_to_zero(self, name):
        assert abs(float(get_kernel(name).sum())) < 1e-12

    @pytest.mark.parametrize("name", ["box", "gaussian", "identity", "sharpen"])
    def test_smoothing_kernels_sum_to_one(self, name):
        assert abs(float(get_kernel(name).sum()) - 1) < 1e-12

    def test_sobel_orientation(self):
        ramp = torch.arange(5.0, dtype=torch.float64).repeat(5, 1)  # increases along x
        from convscope.conv import correlate2d

        assert correlate2d(ramp, get_kernel("sobel_x"), mode="valid").min() > 0
        assert correlate2d(ramp, get_kernel("sobel_y"), mode="valid").abs().max() == 0
        assert torch.equal(get_kernel("sobel_y"), get_kernel("sobel_x").T)

    @pytest.mark.parametrize("size", [1, 4, 5, 9])
    def test_parametric_sizes_including_even(self, size):
        for name in ("box", "gaussian", "identity", "log", "gabor"):
            assert get_kernel(name, size).shape == (size, size)

    def test_gaussian_matches_opencv(self):
        for size, sigma in [(5, 1.0), (9, None), (11, 2.5)]:  # sigma None: OpenCV's rule from the size
            g1 = cv2.getGaussianKernel(size, sigma or 0.3 * ((size - 1) * 0.5 - 1) + 0.8)  # (cv2 uses fixed tables for sigma=0, size<=9)
            np.testing.assert_allclose(get_kernel("gaussian", size, sigma).numpy(), g1 @ g1.T, atol=1e-7)

    def test_gaussian_is_symmetric_and_peaked(self):
        g = get_kernel("gaussian", 9, 1.5)
        assert torch.allclose(g, g.T) and torch.allclose(g, g.flip(0)) and g[4, 4] == g.max()

    @pytest.mark.parametrize(
        ("args", "exc", "match"),
        [
            (("nope",), ValueError, "name must be one of 'identity', 'box'.*got 'nope'"),
            (("laplacian8", 5), ValueError, r"size must be 3 \(or None\) for this fixed kernel, got 5"),
            (("gaussian", 0), ValueError, "size must be an integer >= 1, got 0"),
            (("gaussian", 5, -1.0), ValueError, "sigma must be a finite number > 0.0, got -1.0"),
            (("box", 2.5), TypeError, "size must be an integer >= 1"),
        ],
    )
    def test_bad_arguments(self, args, exc, match):
        with pytest.raises(exc, match=match):
            get_kernel(*args)


class TestParseKernel:
    def test_inline(self):
        k = parse_kernel("[[0, 1, 0], [1, -4, 1], [0, 1, 0]]")
        assert k.shape == (3, 3) and k[1, 1] == -4 and k.dtype == torch.float64

    def test_inline_even_and_one_row(self):
        assert parse_kernel("[[1, 2], [3, 4]]").shape == (2, 2)
        assert parse_kernel("[1, 0, -1]").shape == (1, 3)

    def test_npy(self, tmp_path):
        arr = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.save(tmp_path / "k.npy", arr)
        assert torch.equal(parse_kernel(tmp_path / "k.npy"), torch.from_numpy(arr.astype(np.float64)))

    def test_npy_with_pickle_is_refused(self, tmp_path):
        np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        with pytest.raises(ValueError, match=r"is not a readable \.npy array"):
            parse_kernel(tmp_path / "obj.npy")

    @pytest.mark.parametrize(("name", "text"), [("k.txt", "1 2 3\n4 5 6\n"), ("k.csv", "1,2,3\n4,5,6\n"), ("c.txt", "# comment\n1, 2 3\n\n4 5 6\n")])
    def test_text_and_csv(self, tmp_path, name, text):
        (tmp_path / name).write_text(text)
        assert torch.equal(parse_kernel(tmp_path / name), torch.tensor([[1.0, 2, 3], [4, 5, 6]], dtype=torch.float64))

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("[[1, 2], [3]]", "kernel must be a rectangular nested list of numbers"),
            ("[[1, 2", r"kernel must be a valid nested list like \[\[1,0\],\[0,1\]\]"),
            ("[[1, nan]]", "kernel must be a valid nested list"),
            ("[]", "kernel must be a non-empty 2-D array"),
            ("[[[1]]]", "kernel must be a non-empty 2-D array"),
            ("missing_file.txt", "kernel must be a kernel name, an inline"),
        ],
    )
    def test_bad_inline_and_missing(self, text, match):
        with pytest.raises(ValueError, match=match):
            parse_kernel(text)

    def test_bad_text_files(self, tmp_path):
        (tmp_path / "ragged.txt").write_text("1 2\n3\n")
        with pytest.raises(ValueError, match="line 2 must hold 2 numbers, as the first row does, got 1"):
            parse_kernel(tmp_path / "ragged.txt")
        (tmp_path / "words.txt").write_text("# a comment\n1 2\n\nhunter2:x:0:0 SECRETWORD\n")
        with pytest.raises(ValueError, match="line 4 must hold numbers separated by spaces or commas") as e:
            parse_kernel(tmp_path / "words.txt")
        assert "hunter2" not in str(e.value) and "SECRETWORD" not in str(e.value)
        (tmp_path / "inf.txt").write_text("1 inf\n")
        with pytest.raises(ValueError, match="kernel must be finite"):
            parse_kernel(tmp_path / "inf.txt")
        (tmp_path / "bad.npy").write_bytes(b"not numpy")
        with pytest.raises(ValueError, match=r"is not a readable \.npy array"):
            parse_kernel(tmp_path / "bad.npy")


class TestKernelFromSpec:
    def test_specs(self, tmp_path):
        assert kernel_from_spec("gaussian:7").shape == (7, 7)
        assert torch.allclose(kernel_from_spec("gaussian:7:2"), get_kernel("gaussian", 7, 2.0))
        assert kernel_from_spec("[[1, -1]]").shape == (1, 2)
        np.save(tmp_path / "k.npy", np.ones((2, 4)))
        assert kernel_from_spec(str(tmp_path / "k.npy")).shape == (2, 4)
        assert kernel_from_spec("laplacian8", dtype=torch.float32).dtype == torch.float32

    def test_bad_spec(self):
        with pytest.raises(ValueError, match="kernel must be NAME\\[:SIZE\\[:SIGMA\\]\\] with numeric SIZE/SIGMA"):
            kernel_from_spec("gaussian:big")
        with pytest.raises(ValueError, match="name must be one of"):
            kernel_from_spec("blurry")


class TestNoFileFromUntrustedText:
    """Text from someone who must not read this machine's files (the explorer's browser)."""

    def test_names_and_literals_still_parse(self):
        assert torch.equal(kernel_from_spec("laplacian8", files=False), get_kernel("laplacian8"))
        assert kernel_from_spec("gaussian:7:2", files=False).shape == (7, 7)
        assert kernel_from_spec("[[1, -1]]", files=False).shape == (1, 2)

    def test_a_path_is_refused_alike_whether_or_not_it_exists(self, tmp_path):
        real = tmp_path / "k.txt"
        real.write_text("1 2\n3 4\n")
        np.save(tmp_path / "k.npy", np.ones((2, 2)))
        messages = set()
        for spec in (str(real), str(tmp_path / "k.npy"), str(tmp_path / "missing.txt"), "k.txt", "/etc/passwd"):
            with pytest.raises(ValueError) as e:
                kernel_from_spec(spec, files=False)
            messages.add(str(e.value).replace(spec, "<spec>"))
        assert messages == {"kernel must be a kernel name, NAME:SIZE[:SIGMA] or an inline [[...]] literal "
                            "(files are not read here), got '<spec>'"}

    def test_the_file_system_is_never_touched(self, monkeypatch):
        import os
        import pathlib

        def forbidden(*a, **k):
            raise AssertionError("the file system was touched")

        for name in ("is_file", "exists", "open", "read_text", "read_bytes", "stat"):
            monkeypatch.setattr(pathlib.Path, name, forbidden)
        monkeypatch.setattr(os, "stat", forbidden)
        for spec in ("/etc/passwd", "./k.npy", "x.csv", "gaussian", "nosuchname"):
            with pytest.raises(ValueError):
                kernel_from_spec(spec if spec != "gaussian" else "gaussian:x", files=False)

    def test_a_huge_literal_is_one_error(self):
        with pytest.raises(ValueError, match="kernel must be a valid nested list"):
            kernel_from_spec("[" * 100_000, files=False)
