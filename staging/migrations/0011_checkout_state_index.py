"""Checkout rows are kept for good (only their progress events are pruned), so queries by state or by end
time would otherwise read every launch ever made: the sweeper's live launches every 30 s, the event
pruning's ended ones, and each /metrics scrape's counts."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('staging', '0010_stable_list_order'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='checkout',
            index=models.Index(fields=['state', 'finished_at'], name='checkout_state_finished'),
        ),
    ]
