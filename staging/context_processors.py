from staging.models import CartItem


def cart_summary(request) -> dict:
    """The number of datasets in the user's cart, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"cart_count": 0}
    return {"cart_count": CartItem.objects.filter(cart__user=user).count()}
