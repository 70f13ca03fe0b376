import pytest
import torch

from latent_atlas.cameras import Cameras, PackedCameras, look_at, near_far_in_box, ray_box_intersection


def _camera(c2w: torch.Tensor, f=10.0, w=8, h=6) -> Cameras:
    return Cameras(c2w[None], torch.tensor([f]), torch.tensor([f * 2]), torch.tensor([w / 2]), torch.tensor([h / 2]), torch.tensor([w]), torch.tensor([h]))


def test_rays_through_pixel_centres_identity_pose():
    cam = _camera(torch.eye(4))
    origins, dirs = cam.pixel_directions(torch.tensor([0, 0]), torch.tensor([0, 7]), torch.tensor([0, 5]))
    # pixel (0, 0): x = (0.5 - 4) / 10, y = -(0.5 - 3) / 20, z = -1 (OpenGL: y up, looking down -z)
    expected = torch.tensor([[-0.35, 0.125, -1.0], [0.35, -0.125, -1.0]])
    expected = expected / expected.norm(dim=-1, keepdim=True)
    assert torch.allclose(dirs, expected, atol=1e-6)
    assert torch.allclose(origins, torch.zeros(2, 3))


def test_rays_rotated_and_translated_pose():
    # camera at (1, 2, 3) rotated 90 degrees about y: its -z axis looks along world -x
    c2w = torch.eye(4)
    c2w[:3, :3] = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    c2w[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    cam = _camera(c2w, f=4.0, w=8, h=8)
    # central pixel (4 - 0.5): direction x = -0.125, y = 0.0625 * ... pick pixel (3, 3): x = -0.5/4, y = 0.5/8
    origins, dirs = cam.pixel_directions(torch.tensor([0]), torch.tensor([3]), torch.tensor([3]))
    local = torch.tensor([-0.125, 0.0625, -1.0])
    world = c2w[:3, :3] @ local
    assert torch.allclose(dirs[0], world / world.norm(), atol=1e-6)
    assert torch.allclose(origins[0], torch.tensor([1.0, 2.0, 3.0]))
    assert dirs[0, 0] < -0.9  # mostly along -x


def test_rescale_is_exact():
    cam = Cameras(
        torch.eye(4)[None], torch.tensor([88.8889]), torch.tensor([88.8889]), torch.tensor([32.0]), torch.tensor([31.5]), torch.tensor([64]), torch.tensor([64])
    )
    small = cam.rescale(1 / 8)
    assert small.fx.item() == pytest.approx(88.8889 / 8, abs=1e-6)
    assert small.cy.item() == pytest.approx(31.5 / 8, abs=1e-6)
    assert (small.width.item(), small.height.item()) == (8, 8)
    with pytest.raises(ValueError, match="non-integer"):
        cam.rescale(1 / 5)


def test_box_intersection_hand_computed():
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.0, 5.0, 3.0], [0.0, 0.0, 0.0]])
    dirs = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    t0, t1 = ray_box_intersection(origins, dirs, -torch.ones(3), torch.ones(3))
    assert torch.allclose(t0[0], torch.tensor(2.0)) and torch.allclose(t1[0], torch.tensor(4.0))
    assert t0[1] > t1[1]  # misses
    near, far = near_far_in_box(origins, dirs, -torch.ones(3), torch.ones(3), min_near=0.05)
    assert near[1] == far[1]  # missing ray: empty interval
    assert near[2].item() == pytest.approx(0.05) and far[2].item() == pytest.approx(1.0)  # starts inside the box


def test_look_at_points_camera_at_target():
    pos = torch.tensor([[3.0, 0.0, 1.0]])
    c2w = look_at(pos, torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]))
    forward = -c2w[0, :3, 2]
    assert torch.allclose(forward, -pos[0] / pos[0].norm(), atol=1e-6)
    assert c2w[0, 2, 1] > 0  # image up has a positive world-z component
    assert torch.allclose(c2w[0, :3, :3] @ c2w[0, :3, :3].T, torch.eye(3), atol=1e-6)


def test_packed_cameras_read_as_the_cameras_they_pack_from_one_tensor():
    g = torch.Generator().manual_seed(0)
    poses = look_at(torch.randn(5, 3, generator=g) * 3, torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]))
    cameras = Cameras(poses, torch.rand(5, generator=g) * 100 + 50, 90.5, 32.25, 31.75, 64, torch.tensor([48, 48, 64, 64, 96]))
    packed = PackedCameras(cameras)
    assert [type(v) for v in vars(packed).values()] == [torch.Tensor]  # one tensor, not seven
    for name in Cameras.__dataclass_fields__:
        value, reference = getattr(packed, name), getattr(cameras, name)
        assert value.dtype == reference.dtype and torch.equal(value, reference), name
    index, px, py = torch.tensor([0, 3, 4]), torch.tensor([1, 20, 63]), torch.tensor([2, 40, 47])
    for a, b in zip(packed.pixel_directions(index, px, py), cameras.pixel_directions(index, px, py)):
        assert torch.equal(a, b)
    assert type(packed[1:3]) is Cameras and torch.equal(packed[1:3].height, torch.tensor([48, 64]))
    assert type(packed.to("cpu")) is Cameras and torch.equal(packed.rescale(0.5).width, torch.full((5,), 32))
    assert len(packed) == 5 and torch.equal(packed.image_pixels(4)[1], cameras.image_pixels(4)[1])
